# Sourced by the round scripts: W = seed-4l's f16 random weights (seed 0), written once per machine.
W=/tmp/seed-4l-f16.safetensors
[ -f $W ] || timeout 150 node run-inference.js --preset seed-4l --init random --seed 0 --model $W --dtype f16 --max-new-tokens 1 --quiet --json > /dev/null
