"""Open the cloud a config points at: AWS (boto3's chain), any endpoint, or the local cloud."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from sclust.config import Config

if TYPE_CHECKING:
    from sclust.cloud import Cloud
    from sclust.cloudadmin import CloudAdmin
    from sclust.desktops.schedules import Schedules


def open_admin_cloud(config: Config, region: str | None = None) -> CloudAdmin:
    """A CloudAdmin (the utility commands' calls too) for CONFIG, as `open_cloud`."""
    from sclust.ec2admin import EC2Admin

    return EC2Admin(aws_for(config), region)


def open_cloud(config: Config, region: str | None = None) -> Cloud:
    """A Cloud for CONFIG; `CLOUD = local` starts the local cloud if needed and uses its URL."""
    from sclust.ec2 import EC2

    return EC2(aws_for(config), region)


def aws_for(config: Config):
    """CONFIG's AWS settings; for `CLOUD = local`, the local cloud's (started if needed)."""
    aws = config.aws
    if config.cloud == "local":
        from sclust.localcloud import ensure_running

        endpoint = ensure_running()
        aws = replace(
            aws,
            access_key_id=endpoint.access_key,
            secret_access_key=endpoint.secret_key,
            session_token=None,
            profile=None,
            region=aws.region or endpoint.region,
            endpoint_url=endpoint.url,
        )
    return aws


def open_schedules(cloud: Cloud) -> Schedules | None:
    """EventBridge Scheduler beside CLOUD (the same credentials and endpoint), for courses'
    calendars; None for a Cloud that is not EC2's."""
    from sclust.ec2 import EC2

    if not isinstance(cloud, EC2):
        return None
    from sclust.eventbridge import EventBridgeSchedules

    return EventBridgeSchedules(cloud)
