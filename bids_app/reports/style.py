"""The look both HTML pages share (subject report and group report): one stylesheet, inline."""

#: Page, navigation bar, headings, tables, figures and notes; each page adds its own rules.
BASE_CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 0;
       color: #222; background: #fafafa; }
nav { position: sticky; top: 0; background: #20303c; padding: 6px 16px; z-index: 2; }
nav a { color: #fff; margin-right: 14px; text-decoration: none; font-size: 14px; }
h1 { font-size: 24px; } h2 { border-bottom: 2px solid #20303c; padding-bottom: 3px; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 13px;
        display: block; max-width: 100%; overflow-x: auto; }
td { overflow-wrap: anywhere; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #e8edf1; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 8px 0 18px; } figcaption { font-size: 13px; color: #444; max-width: 1000px; }
.note { background: #fff8dc; border-left: 4px solid #e0b000; padding: 6px 10px; }
"""
