"""Evaluation of renderers on held-out videos (paper section 4.1): metrics and the evaluation run.

Submodules: `metrics` (L1, PSNR, SSIM, MS-SSIM, AED, APD, identity similarity, FID, LPIPS) and
`evaluate` (the Engine protocol, same- and cross-identity protocols, JSON/markdown reports);
`lipsync` (issue 18: audio-driven mouth vs the real speaker's on held-out talking-head clips).
"""

__all__ = ["evaluate", "lipsync", "metrics"]
