// Instant fake trainer for the submit benchmark: one progress line (docs/TRAINER-CONTRACT.md), exit 0.
process.stdout.write('{"ct":"progress","step":1,"total_steps":1,"loss":0}\n');
