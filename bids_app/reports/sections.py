"""The report's sections for one unit: each draws its figures and returns its HTML fragment.

A figure that cannot be drawn (unreadable image, grid mismatch) does not stop the report: its
reason goes to the unit's Errors section and the section says what is missing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bids_app.derivatives import derived_name, split_source
from bids_app.errors import SclesionError
from bids_app.frame import CordFrame
from bids_app.reports import html
from bids_app.reports.canvas import load_canonical
from bids_app.reports.mosaics import crop_mosaic, lesion_grid, lesion_slices
from bids_app.reports.native import centerline_figure, lesion_figures
from bids_app.reports.unit import UnitReport, load_frame_probability, read_centerline, read_tsv
from bids_app.slots import Slot
from bids_app.vertebrae import read_discs

logger = logging.getLogger(__name__)

#: On lesion-free real scans held out from training every false lesion of the shipped model lay
#: within this distance of an end of the field of view (docs/status.md), true ones less often.
VIEW_END_CAUTION_MM = 8.0

#: Exceptions that cost one figure, not the report.
FIGURE_ERRORS = (SclesionError, OSError, ValueError, KeyError, IndexError)


@dataclass
class UnitContext:
    """One unit while its sections are built.

    Attributes
    ----------
    unit : UnitReport
        The inputs.
    figures_dir : Path
        ``OUTPUT_DIR/sub-<s>/figures``.
    relative : str
        That folder relative to the report (``sub-<s>/figures``).
    frame : CordFrame or None
        Loaded cord frame.
    lesions : list of dict
        Rows of the per-lesion table.
    summary : dict
        The summary TSV's row (empty when absent).
    problems : list of str
        Figures that could not be drawn, for the Errors section.
    """

    unit: UnitReport
    figures_dir: Path
    relative: str
    frame: CordFrame | None = None
    lesions: list[dict[str, str]] = field(default_factory=list)
    summary: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    used_names: set[str] = field(default_factory=set)

    def name(self, slot: Slot, desc: str) -> str:
        """Figure file name after the slot's first source (CONVENTIONS section 4)."""
        source = self.unit.sources[slot][0]
        suffix = split_source(source)[1]
        name = derived_name(source, suffix=suffix, extension='.png', desc=desc)
        if name in self.used_names:
            name = derived_name(source, suffix=suffix, extension='.png', desc=f'{desc}{slot}')
        self.used_names.add(name)
        return name

    def draw(self, what: str, draw: Callable[..., Any], *args: Any) -> bool:
        """Call ``draw(*args)``; on failure record why and return False."""
        try:
            draw(*args)
        except FIGURE_ERRORS as error:
            logger.warning('%s: %s figure failed: %s', self.unit.label, what, error)
            self.problems.append(f'report: the {what} figure could not be drawn: {error}')
            return False
        return True

    def centerline(self, slot: Slot) -> NDArray[np.float64] | None:
        """The slot's centreline (world RAS+ mm): from its TSV, else from the cord frame."""
        path = self.unit.centerlines.get(slot)
        if path is not None and Path(path).is_file():
            return read_centerline(Path(path))
        if self.frame is not None and slot in self.frame.centerlines:
            return self.frame.centerlines[slot]
        return None


def _float(row: dict[str, str], key: str) -> float | None:
    try:
        return float(row[key])
    except (KeyError, ValueError):
        return None


def dropped_slots(cell: str | None) -> dict[str, str]:
    """``slots_dropped`` of the summary TSV as slot -> reason.

    Examples
    --------
    >>> dropped_slots('T2Ax: far; STIR: unsure'), dropped_slots('n/a')
    ({'T2Ax': 'far', 'STIR': 'unsure'}, {})
    """
    items = [] if cell in (None, '', 'n/a') else str(cell).split('; ')
    return dict(item.partition(': ')[::2] for item in items)


def summary(ctx: UnitContext) -> str:
    """Section 1: slots found and used, providers, model, post-processing, lesion count, volume.

    The thresholds, minimum lesion size and test-time augmentation are those the summary TSV
    records as used (the run's ``--threshold`` may be unset: the model card's value applied).
    """
    unit, prov = ctx.unit, ctx.unit.provenance
    used = set(ctx.frame.slots) if ctx.frame is not None else set()
    if ctx.summary.get('slots_used'):
        used = {s.strip() for s in ctx.summary['slots_used'].split(',')}
    providers = ctx.frame.providers if ctx.frame is not None else {}
    dropped = dropped_slots(ctx.summary.get('slots_dropped'))
    rows = [
        [slot, ', '.join(p.name for p in unit.sources[slot]),
         f'no: {dropped[slot]}' if slot in dropped else slot in used,
         providers.get(slot) or 'n/a']
        for slot in unit.slots
    ]  # fmt: skip
    model = prov.get('model') or {}
    sha = str(model.get('sha256') or 'n/a')
    if ctx.lesions or unit.lesion_table is not None:
        count: object = len(ctx.lesions)
        volume: object = sum(_float(r, 'volume_mm3') or 0.0 for r in ctx.lesions)
    else:
        count = _float(ctx.summary, 'n_lesions')
        volume = _float(ctx.summary, 'total_volume_mm3')
    threshold = _float(ctx.summary, 'threshold')
    grow = _float(ctx.summary, 'grow_threshold')
    min_lesion = _float(ctx.summary, 'min_lesion_mm3')
    items = [
        ('T2Sag image (native grid)', unit.t2sag.name),
        ('model', f'{model.get("name", "n/a")} (sha256 {sha[:12]})'),
        ('threshold', threshold if threshold is not None else prov.get('threshold') or 'n/a'),
        ('lesions grown over probabilities of at least', grow if grow is not None else 'n/a'),
        ('smallest lesion kept (mm³)', min_lesion if min_lesion is not None else 'n/a'),
        ('mirroring test-time augmentation', ctx.summary.get('tta') or 'n/a'),
        ('lesions found', count if count is not None else 'n/a'),
        ('total lesion volume (mm³)', volume if volume is not None else 'n/a'),
    ]
    return html.table(['slot', 'files', 'used', 'centreline provider'], rows) + html.key_values(
        items
    )


def sequences(ctx: UnitContext) -> str:
    """Section 2: each slot's native image with its centreline."""
    parts = []
    for slot in ctx.unit.slots:
        centerline = ctx.centerline(slot)
        if centerline is None:
            parts.append(html.subsection(slot, html.note('No centreline for this slot.'), 4))
            continue
        name = ctx.name(slot, 'centerline')
        images = ctx.unit.sources[slot]
        title = f'{slot}: centreline (red)'
        path = ctx.figures_dir / name
        if ctx.draw(f'{slot} centreline', centerline_figure, images, centerline, path, title):
            caption = (
                f'{slot} on its native grid, reoriented to the closest canonical axes. '
                'Sagittal and 3D images: the sagittal slice through the cord, centreline '
                'projected. Axial images: axial slices (radiological, R on the left) with the '
                'centreline point (+).'
            )
            parts.append(html.subsection(slot, html.figure(f'{ctx.relative}/{name}', caption,
                                                           f'{slot} centreline'), 4))  # fmt: skip
    return ''.join(parts)


def crops(ctx: UnitContext) -> str:
    """Section 3: a cord-frame mosaic per slot."""
    frame = ctx.frame
    if frame is None:
        return html.note('No cord frame: the crops the model saw are not available.')
    parts = []
    for slot in frame.slots:
        if slot not in ctx.unit.sources:
            continue
        name = ctx.name(slot, 'crop')
        crop, covered, path = frame.crops[slot], frame.coverage[slot], ctx.figures_dir / name
        if ctx.draw(f'{slot} crop', crop_mosaic, crop, covered, frame.z_mm, path):
            caption = (
                f'{slot} in the cord frame: 24 x 24 mm axial patches centred on its '
                'centreline, every 5 mm (or more) over its field of view, labelled with '
                'world z in mm; "n/c" and grey: not covered.'
            )
            parts.append(html.subsection(slot, html.figure(f'{ctx.relative}/{name}', caption,
                                                           f'{slot} crop mosaic'), 4))  # fmt: skip
    return ''.join(parts)


def lesions(ctx: UnitContext) -> str:
    """Section 4: T2Sag sagittal views with outlines, and each lesion in every sequence."""
    unit = ctx.unit
    parts = []
    if unit.lesion_table is not None and not ctx.lesions:
        parts.append(html.note('No lesion found.'))
    labels = unit.dseg or unit.mask
    centerline = ctx.centerline(Slot.T2Sag)
    if centerline is None:
        centerline = np.empty((0, 3))
    overlay, plain = ctx.name(Slot.T2Sag, 'lesions'), ctx.name(Slot.T2Sag, 'lesionsplain')
    out = (ctx.figures_dir / overlay, ctx.figures_dir / plain)
    discs = read_discs(unit.discs) if unit.discs else None
    if ctx.draw('T2Sag lesions', lesion_figures, unit.t2sag, labels, centerline, *out, discs):
        caption = (
            'T2Sag, sagittal slices through the cord and through each lesion (x: world R-L '
            'position), anterior on the left; lesions outlined in cyan with their numbers'
            + (
                ', intervertebral discs marked in front of the cord.'
                if discs is not None and discs.named
                else '; no vertebral level could be named (discs not found, or the image starts '
                'below C2).'
            )
        )
        parts.append(html.flicker(f'{ctx.relative}/{overlay}', f'{ctx.relative}/{plain}',
                                  caption, f'{unit.label}-sag'))  # fmt: skip
    if not ctx.lesions:
        return ''.join(parts)
    if unit.dseg is None or ctx.frame is None or centerline.size == 0:
        parts.append(html.note('Per-lesion views need the numbered lesions and the cord frame.'))
        return ''.join(parts)
    parts.append(_lesion_grid(ctx, centerline))
    return ''.join(parts)


def _lesion_grid(ctx: UnitContext, centerline: NDArray[np.float64]) -> str:
    frame, unit = ctx.frame, ctx.unit
    overlay, plain = ctx.name(Slot.T2Sag, 'lesionslots'), ctx.name(Slot.T2Sag, 'lesionslotsplain')

    def draw() -> None:
        labels, affine, _ = load_canonical(unit.dseg)
        wanted = [(int(r['index']), float(r['z_min_mm']), float(r['z_max_mm']))
                  for r in ctx.lesions]  # fmt: skip
        frame_xyz = frame.centerlines[Slot.T2Sag]
        slices = lesion_slices(
            np.rint(labels), affine, frame_xyz, frame.z_mm, wanted, frame=frame.config
        )
        probability = load_frame_probability(unit.frame_probability)
        lesion_grid(frame, slices, probability, ctx.figures_dir / overlay,
                    ctx.figures_dir / plain)  # fmt: skip

    if not ctx.draw('per-lesion', draw):
        return ''
    caption = (
        'Each lesion (row) at its largest axial section, in every sequence (column): the '
        'cord-frame patch at that level, 24 x 24 mm, radiological (R on the left, A on top), '
        'the lesion outlined in cyan. Some lesions show in one sequence only.'
    )
    return html.flicker(f'{ctx.relative}/{overlay}', f'{ctx.relative}/{plain}', caption,
                        f'{unit.label}-grid')  # fmt: skip


def lesion_table(ctx: UnitContext) -> str:
    """Section 5: the per-lesion table as written by the pipeline, and which lesions lie near an
    end of the field of view."""
    if ctx.unit.lesion_table is None:
        return html.note('No per-lesion table.')
    if not ctx.lesions:
        return html.note('No lesion found.')
    header = list(ctx.lesions[0].keys())
    table = html.table(header, [[_number(r[c]) for c in header] for r in ctx.lesions])
    return table + _near_view_end(ctx.lesions)


def _near_view_end(lesions: list[dict[str, str]]) -> str:
    """A note naming the lesions within :data:`VIEW_END_CAUTION_MM` of a field of view's end."""
    near = [
        str(r.get('index'))
        for r in lesions
        if (d := _float(r, 'distance_to_view_end_mm')) is not None and d < VIEW_END_CAUTION_MM
    ]
    if not near:
        return ''
    which = f'Lesion {near[0]} lies' if len(near) == 1 else f'Lesions {", ".join(near)} lie'
    return html.note(
        f'{which} within {VIEW_END_CAUTION_MM:g} mm of an end of the field of view, where the '
        'images stop and false lesions gather: check on the images.'
    )


def _number(text: str) -> object:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def reference(ctx: UnitContext) -> str:
    """Section 6: agreement with the reference labels, when there are any."""
    if not ctx.unit.reference:
        return html.note('No reference labels for this unit.')
    return html.key_values(list(ctx.unit.reference.items()))


def about(ctx: UnitContext, citation: str) -> str:
    """Section 7: versions, command line, run times, citation."""
    prov = ctx.unit.provenance
    command = prov.get('command_line', 'n/a')
    if isinstance(command, list | tuple):
        command = ' '.join(str(c) for c in command)
    items = [
        ('sclesion version', prov.get('software_version', 'n/a')),
        ('run', prov.get('run_uuid', 'n/a')),
        ('started', prov.get('start_time', 'n/a')),
        ('finished', prov.get('end_time', 'n/a')),
        ('wall time (s)', _elapsed(prov.get('start_time'), prov.get('end_time'))),
    ]
    items += [(f'{step} (s)', float(s)) for step, s in (prov.get('runtimes') or {}).items()]
    items += [(f'option {k}', str(v)) for k, v in (prov.get('options') or {}).items()]
    return (
        html.key_values(items)
        + html.subsection('Command line', html.preformatted(str(command)), 4)
        + html.subsection('Citation', html.preformatted(citation), 4)
    )


def _elapsed(start: object, end: object) -> object:
    try:
        seconds = datetime.fromisoformat(str(end)) - datetime.fromisoformat(str(start))
    except ValueError:
        return 'n/a'
    return round(seconds.total_seconds(), 1)


def errors(ctx: UnitContext) -> str:
    """Section 8: crash reasons of the run, and figures this report could not draw."""
    found = [*ctx.unit.errors, *ctx.problems]
    if not found:
        return '<p>No errors to report.</p>\n'
    return ''.join(html.error_block(e) for e in found)


def load_context(unit: UnitReport, figures_dir: Path, relative: str) -> UnitContext:
    """Read the unit's small inputs (cord frame, tables); missing files are noted, not fatal."""
    ctx = UnitContext(unit, figures_dir, relative)
    if unit.cordframe is not None:
        try:
            ctx.frame = CordFrame.load(unit.cordframe)
        except FIGURE_ERRORS as error:
            ctx.problems.append(f'report: cannot read the cord frame {unit.cordframe}: {error}')
    for attribute in ('lesion_table', 'summary'):
        path = getattr(unit, attribute)
        if path is None:
            continue
        try:
            rows = read_tsv(Path(path))
        except OSError as error:
            ctx.problems.append(f'report: cannot read {path}: {error}')
            continue
        if attribute == 'lesion_table':
            ctx.lesions = rows
        elif rows:
            ctx.summary = rows[0]
    return ctx
