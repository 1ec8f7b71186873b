// A Llama/Mistral-style SentencePiece BPE with byte fallback as a tokenizer.json object, for the tests that need a real
// Hugging Face tokenizer without a download: '▁' for spaces (Prepend + Replace normalizers), <0xNN> byte pieces 3..258,
// pieces for "hello" and "wo…" from 259 on, <s> added by the post-processor, a decoder that strips the leading space.

/** The tokenizer.json; `pieces` and `merges` extend the base ones (ids follow on, so the base ids never move). */
export function spTokenizerJson(pieces: readonly string[] = [], merges: readonly (readonly [string, string])[] = []) {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  let id = 259;
  for (const p of ['▁', 'a', 'b', 'c', 'e', 'h', 'l', 'o', 'w', 'r', 'd', '▁h', 'he', 'll', '▁he', '▁hell', '▁hello', '▁w', '▁wo', ...pieces]) vocab[p] = id++;
  const all = [['▁', 'h'], ['h', 'e'], ['l', 'l'], ['▁h', 'e'], ['▁he', 'll'], ['▁hell', 'o'], ['▁', 'w'], ['▁w', 'o'], ...merges];
  const special = (content: string, i: number) => ({ id: i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [special('<unk>', 0), special('<s>', 1), special('</s>', 2)],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, vocab, merges: all.map((m) => m.join(' ')) },
  };
}
