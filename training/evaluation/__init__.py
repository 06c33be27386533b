"""Evaluation of renderers on held-out videos (paper section 4.1): metrics and the evaluation run.

Submodules: `metrics` (L1, PSNR, SSIM, MS-SSIM, AED, APD, identity similarity, FID, LPIPS) and
`evaluate` (same- and cross-identity protocols over any `pipeline.Renderer`, JSON/markdown reports);
`lipsync` (audio-driven mouth opening against the real speaker's, on held-out talking-head clips).
"""

__all__ = ["evaluate", "lipsync", "metrics"]
