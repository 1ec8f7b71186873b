#!/usr/bin/env python3
"""Build fortunes.txt.gz, the training corpus of the default model, from Debian's fortune cookie files.

    apt-get download fortunes fortunes-min            # Debian 12: 1:1.99.1-7.3 (BSD licence, see COPYRIGHT.fortunes)
    python3 src/model/default/make_corpus.py fortunes*_all.deb fortunes-min*_all.deb

Takes every file under /usr/share/games/fortunes except the pictures (art, ascii-art) and the
'translate-me' list, in name order; removes the teletype overstrike (x BACKSPACE _) and bell characters;
keeps the fortune file format: each fortune followed by a line holding '%'. Standard library only, and
deterministic (gzip without a timestamp), so the committed file can be rebuilt byte for byte.
"""
import gzip, hashlib, os, re, subprocess, sys, tempfile

SKIP = {'art', 'ascii-art', 'translate-me'}
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fortunes.txt.gz')


def clean(text):
    # underlined words are typed as n underscores, n backspaces, then the word: keep the word
    text = re.sub(r'(_+)(\x08+)', lambda m: m.group(1)[len(m.group(2)):], text)
    text = re.sub(r'\x08_', '', text)
    while re.search(r'[^\x08]\x08', text):     # any other overstrike keeps the last character
        text = re.sub(r'[^\x08]\x08', '', text)
    text = text.replace('\x08', '')
    return text.replace('\x07', '')


def main(debs):
    with tempfile.TemporaryDirectory() as tmp:
        for d in debs:
            subprocess.run(['dpkg-deb', '-x', d, tmp], check=True)
        root = os.path.join(tmp, 'usr/share/games/fortunes')
        names = sorted(n for n in os.listdir(root)
                       if not n.endswith(('.dat', '.u8')) and n not in SKIP and os.path.isfile(os.path.join(root, n)))
        fortunes = []
        for n in names:
            text = clean(open(os.path.join(root, n), encoding='utf-8').read())
            fortunes += [f.strip('\n') for f in re.split(r'^%\n', text, flags=re.M) if f.strip()]
    corpus = ''.join(f + '\n%\n' for f in fortunes).encode('utf-8')
    with open(OUT, 'wb') as raw, gzip.GzipFile(filename='', mode='wb', fileobj=raw, compresslevel=9, mtime=0) as z:
        z.write(corpus)
    print(f'{len(names)} files, {len(fortunes)} fortunes, {len(corpus)} bytes -> {OUT} '
          f'({os.path.getsize(OUT)} bytes, text sha256 {hashlib.sha256(corpus).hexdigest()})')


if __name__ == '__main__':
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
