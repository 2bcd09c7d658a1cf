"""Nipype workflow factories (``init_<thing>_wf``), one subject/session at a time."""
