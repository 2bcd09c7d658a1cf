"""``OUTPUT_DIR/sub-<s>.html``: one report per subject, sessions as sub-sections (fMRIPrep layout).

Sections, in order: Summary, Sequences and centrelines, Cord-frame crops, Lesions, Lesion table,
Reference comparison, About, Errors (CONVENTIONS section 5). Figures are PNGs in
``OUTPUT_DIR/sub-<s>/figures/``, linked relatively, so the report opens from any file system.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bids_app import __version__
from bids_app.errors import DatasetError
from bids_app.reports import html, sections
from bids_app.reports.unit import UnitReport

logger = logging.getLogger(__name__)

#: Used when ``OUTPUT_DIR/logs/CITATION.md`` has not been written.
DEFAULT_CITATION = (
    f'Lesions were segmented with sclesion {__version__}, which implements the multi-sequence '
    'model with mean imputation of Walsh et al., "Multi-sequence learning for multiple sclerosis '
    'lesion segmentation in spinal cord MRI", MICCAI 2024.'
)

SECTIONS: tuple[tuple[str, str, Callable[..., str]], ...] = (
    ('summary', 'Summary', sections.summary),
    ('sequences', 'Sequences and centrelines', sections.sequences),
    ('crops', 'Cord-frame crops', sections.crops),
    ('lesions', 'Lesions', sections.lesions),
    ('lesion-table', 'Lesion table', sections.lesion_table),
    ('reference', 'Reference comparison', sections.reference),
    ('about', 'About', sections.about),
    ('errors', 'Errors', sections.errors),
)


def write_subject_report(output_dir: Path, subject: str, units: Sequence[UnitReport]) -> Path:
    """Draw the figures and write ``OUTPUT_DIR/sub-<subject>.html`` atomically.

    Parameters
    ----------
    output_dir : Path
        The derivatives dataset.
    subject : str
        Participant label, with or without ``sub-``.
    units : sequence of UnitReport
        The subject's sessions (one unit without a session for single-session datasets).

    Returns
    -------
    Path
        The report.
    """
    subject = subject.removeprefix('sub-')
    if not units:
        raise DatasetError(f'sub-{subject}: no subject/session outputs to report on')
    strangers = sorted({u.subject for u in units} - {subject})
    if strangers:
        raise DatasetError(f'sub-{subject}: report given units of other subjects {strangers}')
    started = time.perf_counter()
    relative = f'sub-{subject}/figures'
    figures_dir = Path(output_dir) / relative
    figures_dir.mkdir(parents=True, exist_ok=True)
    ordered = sorted(units, key=lambda u: u.session or '')
    contexts = [sections.load_context(u, figures_dir, relative) for u in ordered]
    citation = _citation(Path(output_dir))
    body = []
    for anchor, title, build in SECTIONS:
        parts = []
        for ctx in contexts:
            content = build(ctx, citation) if anchor == 'about' else build(ctx)
            parts.append(
                html.subsection(f'Session {ctx.unit.session}', content)
                if ctx.unit.session
                else content
            )
        body.append(html.section(anchor, title, ''.join(parts)))
    document = html.page(
        f'sclesion report: sub-{subject}', [(a, t) for a, t, _ in SECTIONS], ''.join(body)
    )
    out = Path(output_dir) / f'sub-{subject}.html'
    _write_text(out, document)
    logger.info(
        'sub-%s: report written in %.1f s: %s', subject, time.perf_counter() - started, out
    )
    return out


def _citation(output_dir: Path) -> str:
    path = output_dir / 'logs' / 'CITATION.md'
    return path.read_text() if path.is_file() else DEFAULT_CITATION


def _write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', dir=path.parent)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
