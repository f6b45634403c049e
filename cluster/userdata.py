"""USERDATA_SCRIPTS -> EC2 user data (one script as is; several as cloud-init multipart)."""

from __future__ import annotations

from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

from sclust.errors import ConfigError
from sclust.files import expand_path, read_small_text

# EC2 refuses user data over 16 KiB (before base64).
USER_DATA_LIMIT = 16 * 1024


def user_data_for(scripts: list[str]) -> str | None:
    """The user data for a template's USERDATA_SCRIPTS, or None when there are none."""
    try:
        return build_user_data(scripts)
    except ValueError as error:
        raise ConfigError(f"USERDATA_SCRIPTS: {error}") from None


def user_data_problem(scripts: list[str]) -> str | None:
    """Why USERDATA_SCRIPTS cannot be sent (for `validate`, before anything is created)."""
    try:
        build_user_data(scripts)
    except ValueError as error:
        return str(error)
    return None


def build_user_data(scripts: list[str]) -> str | None:
    if not scripts:
        return None
    texts = []
    for script in scripts:
        path = expand_path(script)
        try:
            texts.append((path.name, read_small_text(path, "user-data script", USER_DATA_LIMIT)))
        except FileNotFoundError:
            raise ValueError(f"user-data script {script!r} does not exist") from None
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
        raise ValueError(f"{len(data.encode())} bytes of user data exceed EC2's 16 KiB")
    return data
