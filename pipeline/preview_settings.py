"""The geometric engine's knobs and feature flags (`PreviewSettings`), a record of their own.

Each flag names the doc that decided its default (a rule written before the result was looked at),
so a flag can be switched off to reproduce the renderer as it was before that change.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PreviewSettings"]


@dataclass(frozen=True)
class PreviewSettings:
    """Knobs of the preview.

    raster_scale: the mesh is rasterised at this fraction of the crop (0.5: 128 px for 256);
    fade: distance outside the face, as a fraction of the face size, over which the flow fades
    to zero; spread: width (fraction of the face size) of the Gaussian that carries the face's
    flow outwards; min_motion: below this largest vertex motion (pixels) the source is returned
    unchanged; teeth: draw teeth in newly opened mouths of photos that show none (`pipeline.teeth`),
    at `fine_teeth` times the crop's resolution for the photo (`mouth_paint.fine_paint`); lower_row:
    a lower row and a cavity shaded towards the throat under a photo's own upper teeth when it shows
    no lower ones (`MouthMotion.lower_row`; docs/TEETH.md, round 2 of that section); open_look: a
    mouth opened from lips the photo shows closed keeps its procedural laterals and canines lit and
    its lower row on the lower lip's visible edge (`MouthMotion.open_look`; docs/TEETH.md); head: move the whole
    head as a solid 3-D proxy (`pipeline.head`: z-buffered, neck bending into still shoulders; the
    moved person laid with a soft edge over the background beside it slid into what it uncovers,
    `pipeline.head_fill`; where the person reaches the photo's edge it is stretched, not moved
    away from it) instead of fading the face's flow outwards; off by default
    (docs/HEAD_PROXY.md): it takes about twice the default's time per frame (previews near or past
    25 ms on a loaded 2-core machine), and at yaw 30 it stretches a microphone or a letter beside
    the head into a smear and drags loose strands the segmenter misses into pale smears; neck: below
    the jaw the flow also fades downwards, to still shoulders (`pipeline.neck`, docs/NECK.md);
    lash_fringe: a shutting lid reads its skin from above the photo's dark lash run only (found
    once per photo, `eyes.lash_heights`), that run is hidden with the eyeball at the photo's
    resolution, and the lash line takes its colour (docs/SHUT_LIDS.md): the lashes are not
    stretched over the lid into a black band; smooth_lids: a shut lid's skin, where it is stretched
    well beyond twice down over the opening, is laid as paint in the photo's own lid colours with
    the fine texture of the photo's skin above the eye (`lid_skin.smooth_shut_lids`,
    `reconstruction.skin`, docs/SHUT_LIDS.md "Skin without streaks"), not one photo row repeated
    down the lid; rim_skin: where the flow magnifies the photo along its rows beyond about twice
    (the near side of a turn), an outline across the band is drawn back at the photo's steepness
    and the photo's own fine detail is laid 1:1 over the band's colour at the photo's resolution,
    not each photo row smeared into a streak (`reconstruction.rim_skin`, docs/RIM_SKIN.md; in
    final images only, not in drag previews: `pipeline.photo.Canvas.quick`); own_teeth: where
    nothing in the opening is bright and little saturated (a warm, soft or dim photo), teeth are
    read against the lips, and a wide-open mouth's few front teeth under its upper lip are read
    (`mouth.analyse_mouth`; docs/OWN_TEETH.md); squint_shut: an eye the photo shows nearly shut
    closes where it is, its lower lid rising to its upper one (`eyes.refine_eye_flow`, docs/SQUINT_SHUT.md);
    near_cut: the near cheek's silhouette magnified at most 2x along the rows (`pipeline.near_cut`, docs/NEAR_CUT.md);
    wide_eyes: close_eyes 1 shuts an eye the photo shows wide open (`pipeline.wide_eyes`, docs/WIDE_EYES.md);
    jaw_edge: the jaw passes in front of a neck that stays (`pipeline.jaw_edge`, docs/JAW_EDGE.md round 4), not
    where a hand touches the face (it would be torn between the still neck and the moving chin);
    glasses: behind a glasses frame (found once per photo, `pipeline.glasses`) a closing lid reads
    no skin from the frame and the frame's pixels keep the head's flow, not the eyes' (docs/GLASSES.md;
    off: its frame mask holds the brows too, so brow edits freeze or copy the bar);
    smile_corners: a rising mouth corner carries the skin further above and below it
    (`pipeline.mouth_corners`, docs/SMILE_FROWN.md): a smile on a down-turned mouth does not stretch
    the photo's corner lines into hooks; lid_shape: a painted shut lid (`smooth_lids`) is cut to
    the lid's curved outline, shaded as skin over a rounded eyeball and given the photo's own skin
    texture at the crop's resolution (`pipeline.lid_shape`, docs/LID_SHAPE.md), not a flat patch;
    lid_follow: a closing lid's skin band meets the face's own flow at its top (`eyes.refine_eye_flow`,
    docs/LID_FAULTS.md): the brow a wink lowers is not cut off by the band as a box or an outline;
    teeth_tone: the procedural teeth no brighter than the photo's own brightest skin allows (a cap
    read once per photo, `pipeline.teeth_tone`, docs/TEETH_TONE.md); lower_fence: the lower row drawn
    under a photo's own upper teeth stands level behind the lower lip and, once the jaw drops, shows
    only its tips (not a tall picket fence climbing the lip's curve; docs/LOWER_FENCE.md);
    lower_lip: where an opened mouth's lower lip squeezes the chin under it, a photo about the crop's
    size or smaller (by its own pixels, whatever canvas it is shown in) is smoothed along the squeeze
    (`pipeline.lower_lip`, `reconstruction.squeeze`, docs/LOWER_LIP.md): no ragged dark and pale
    outline of the squeezed chin.
    """

    raster_scale: float = 0.5
    fade: float = 0.3
    spread: float = 0.12
    min_motion: float = 0.01
    teeth: bool = True
    fine_teeth: int = 2
    lower_row: bool = True
    open_look: bool = True
    head: bool = False
    neck: bool = True
    lash_fringe: bool = True
    smooth_lids: bool = True
    rim_skin: bool = True
    own_teeth: bool = True
    squint_shut: bool = True
    wide_eyes: bool = True
    near_cut: bool = True
    jaw_edge: bool = True
    glasses: bool = False  # off after review (docs/GLASSES.md "Review of round 2")
    smile_corners: bool = True
    lid_shape: bool = True
    lid_follow: bool = True
    teeth_tone: bool = True
    lower_fence: bool = True
    lower_lip: bool = True
