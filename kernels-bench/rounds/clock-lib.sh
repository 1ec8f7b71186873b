# Sourced by the rounds that line requests up with the GPU's clocks (s30c, s31a). clock_on: nvidia-smi samples the SM
# and memory clocks, power and utilisation every 20 ms into $R/smi.csv; clock_off: stops it and prints each
# first-bench request ($R/first-*.json) beside the clocks read during it (clock-lineup.py).
clock_on() {
  nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,utilization.gpu --format=csv,nounits -lms 20 > "$R/smi.csv" 2>&1 &
  CLOCK_PID=$!
}
clock_off() {
  kill "$CLOCK_PID" 2>/dev/null
  python3 kernels-bench/rounds/clock-lineup.py "$R"
}
