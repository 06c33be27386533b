"""Stage 1 of the pipeline: photo or video -> face -> renderer crop -> 3DMM coefficients.

Import from the modules: `reconstruction.backends` (get_backend), `reconstruction.video`
(VideoReader), `reconstruction.motion`, `reconstruction.controls`, ... Importing the package
itself loads nothing.
"""
