"""Per-student training desktops: `[desktops NAME]` templates and `sclust desktops …`.

template.py (config), cloud.py (EC2: instances, Elastic IPs, security group), course.py (the
operations, in order), passwords.py (credentials, kept on the instructor's machine only),
roster.py (HTML and CSV), cost.py (price table and estimates), cli.py (click), kinds/ (what
runs on a desktop, per KIND: novnc.py + novnc.sh for VNC and noVNC over HTTPS; the shared
steps desktop-base.sh and desktop-start.sh with the auto-stop timer); calendar.py (SCHEDULE as
data and cron), schedules.py (what the calendar and the budget cap become in the scheduler;
sclust.eventbridge makes them), budget.py (spend, projection, cap), wall.py (the instructor's
page of screens, taken view-only), png.py.
"""
