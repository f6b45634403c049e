"""USERDATA_SCRIPTS -> EC2 user data (one script as is; several as cloud-init multipart)."""

from __future__ import annotations

from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

from sclust.errors import ConfigError

# EC2 refuses user data over 16 KiB (before base64).
USER_DATA_LIMIT = 16 * 1024


def user_data_for(scripts: list[str]) -> str | None:
    """The user data for a template's USERDATA_SCRIPTS, or None when there are none."""
    if not scripts:
        return None
    texts = []
    for script in scripts:
        path = Path(script).expanduser()
        try:
            texts.append((path.name, path.read_text()))
        except OSError as error:
            raise ConfigError(f"USERDATA_SCRIPTS: cannot read {script}: {error.strerror}") from None
    if len(texts) == 1:
        data = texts[0][1]
    else:
        message = MIMEMultipart()
        for name, text in texts:
            subtype = "cloud-config" if text.startswith("#cloud-config") else "x-shellscript"
            part = MIMEText(text, subtype)
            part.add_header("Content-Disposition", "attachment", filename=name)
            message.attach(part)
        data = message.as_string()
    if len(data.encode()) > USER_DATA_LIMIT:
        raise ConfigError(f"USERDATA_SCRIPTS: {len(data.encode())} bytes exceeds EC2's 16 KiB")
    return data
