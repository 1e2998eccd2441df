"""Speech-quality measurement shared by training (validation), evaluation and benchmarks:
objective metrics, (noisy, clean) pairing, and the behaviours a denoiser must show. Numpy only;
the metric packages (pesq, pystoi, speechmos) are imported on first use."""
