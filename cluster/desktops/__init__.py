"""Per-student training desktops: `[desktops NAME]` templates and `sclust desktops …`.

template.py (config), cloud.py (EC2: instances, Elastic IPs, security group), course.py (the
operations, in order), secrets.py (passwords, kept on the instructor's machine only),
roster.py (HTML and CSV), cost.py (price table and estimates), cli.py (click), vnc.py (what
runs on a desktop: VNC, noVNC over HTTPS, auto-stop).
"""
