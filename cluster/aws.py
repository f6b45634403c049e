"""What every AWS client of sclust shares: how a client is made from [aws info] (sessions,
retries, proxy, endpoint), and how botocore's errors become one clear CloudError line.

Used by the modules that talk to one service each: `ec2` (the Cloud), `iam`, `efs`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import botocore.parsers

from sclust.cloud import CapacityError
from sclust.config import AwsSettings
from sclust.errors import CloudError

log = logging.getLogger("sclust.ec2")  # the name users' --debug logs have always shown


ERROR_ADVICE: dict[str, str] = {
    "ExpiredToken": "your temporary credentials expired: `aws sso login --profile PROFILE`, or "
                    "a new session token",
    "ExpiredTokenException": "your temporary credentials expired: `aws sso login --profile "
                             "PROFILE`, or a new session token",
    "RequestExpired": "your clock or temporary credentials are off: check the time and renew "
                      "the credentials",
    "InstanceLimitExceeded": "you reached the region's instance limit: ask AWS for more in the "
    "Service Quotas console (EC2 > Running On-Demand instances), or use fewer or smaller nodes",
    "VcpuLimitExceeded": "you reached the region's vCPU limit for this instance family: ask AWS "
    "for more in the Service Quotas console (EC2 > Running On-Demand instances), or use fewer or "
    "smaller nodes",
    "MaxSpotInstanceCountExceeded": "you reached the spot instance limit: ask AWS for more in "
    "the Service Quotas console, or launch on-demand (no SPOT_BID)",
    "InvalidAMIID.NotFound": "the AMI does not exist in this region (AMIs are per region): "
    "check NODE_IMAGE_ID / MASTER_IMAGE_ID and AWS_REGION_NAME",
    "InvalidAMIID.Malformed": "the AMI id is malformed: check NODE_IMAGE_ID / MASTER_IMAGE_ID",
    "InvalidKeyPair.NotFound": "the key pair does not exist in this region: create it with "
    "`sclust createkey NAME -o FILE`, or import your public key in the EC2 console",
    "AuthFailure": "AWS rejected the credentials: check [aws info] or your AWS profile",
    "UnauthorizedOperation": "the credentials are not allowed to do this: check their IAM policy",
    "AccessDenied": "the credentials are not allowed to do this: check their IAM policy",
    "RequestLimitExceeded": "EC2 kept throttling the requests; wait a minute and retry",
    "InvalidSubnetID.NotFound": "the subnet does not exist in this region: check SUBNET_ID",
    "InvalidVolume.NotFound": "the volume does not exist in this region: check VOLUME_ID",
    "InvalidParameterValue": "EC2 rejected a value",
    "Unsupported": "EC2 does not offer this here (instance type or option in this zone)",
}


def translate(error: botocore.exceptions.ClientError, doing: str) -> CloudError:
    """A botocore error -> CloudError whose message says what failed and what to do."""
    code = error.response.get("Error", {}).get("Code", "Unknown")
    message = error.response.get("Error", {}).get("Message", str(error))
    advice = ERROR_ADVICE.get(code)
    text = f"{doing}: {code}: {message}" + (f" — {advice}" if advice else "")
    if code in ("InsufficientInstanceCapacity", "InsufficientCapacity"):
        return CapacityError(text)
    failure = CloudError(text)
    failure.code = str(code)
    return failure


@contextmanager
def ec2_errors(doing: str) -> Iterator[None]:
    try:
        yield
    except botocore.exceptions.ClientError as error:
        raise translate(error, doing) from error
    except botocore.exceptions.NoCredentialsError:
        raise CloudError(
            f"{doing}: no AWS credentials: set them in [aws info], an AWS profile "
            "(aws configure), or the environment"
        ) from None
    except botocore.exceptions.NoRegionError:
        raise CloudError(
            f"{doing}: no AWS region: set AWS_REGION_NAME in [aws info] or AWS_DEFAULT_REGION"
        ) from None
    except botocore.exceptions.EndpointConnectionError as error:
        endpoint = error.kwargs.get("endpoint_url")
        raise CloudError(f"{doing}: cannot reach EC2 at {endpoint}") from None
    except (botocore.exceptions.TokenRetrievalError, botocore.exceptions.SSOError,
            botocore.exceptions.UnauthorizedSSOTokenError) as error:
        raise CloudError(
            f"{doing}: the AWS SSO session has expired or was never started ({error}): run "
            "`aws sso login --profile PROFILE` with your config's AWS_PROFILE") from None
    except (botocore.parsers.ResponseParserError, KeyError, TypeError):
        # botocore reads an HTML page as an empty answer: the expected fields are missing.
        log.debug("%s: unreadable answer", doing, exc_info=True)  # the log keeps the details
        raise CloudError(
            f"{doing}: the endpoint answered something that is not an EC2 response: check "
            "AWS_ENDPOINT_URL / AWS_REGION_HOST in [aws info]") from None
    except botocore.exceptions.BotoCoreError as error:  # timeouts, TLS, closed connections
        raise CloudError(f"{doing}: {error}") from None


def error_code(error: botocore.exceptions.ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


DEFAULT_REGION = "us-east-1"
_region_defaulted: list[str] = []  # said once per process, however many clients open


def default_region() -> str:
    """StarCluster's region when none is set anywhere (-r, [aws info], environment, profile)."""
    if not _region_defaulted:
        log.warning("no region set (-r, [aws info] AWS_REGION_NAME, AWS_DEFAULT_REGION or an AWS "
                    "profile): using %s, as StarCluster did", DEFAULT_REGION)
        _region_defaulted.append(DEFAULT_REGION)
    return DEFAULT_REGION


def aws_session(aws: AwsSettings, region: str | None = None) -> boto3.Session:
    """A boto3 session from [aws info] (anything unset: boto3's own chain), in REGION."""
    session = boto3.Session(
        aws_access_key_id=aws.access_key_id,
        aws_secret_access_key=aws.secret_access_key,
        aws_session_token=aws.session_token,
        region_name=region or aws.region,
        profile_name=aws.profile,
    )
    if session.region_name is None and aws.endpoint_url is None:
        session = boto3.Session(
            aws_access_key_id=aws.access_key_id,
            aws_secret_access_key=aws.secret_access_key,
            aws_session_token=aws.session_token,
            region_name=default_region(),
            profile_name=aws.profile,
        )
    return session


def aws_client(service: str, aws: AwsSettings, region: str | None = None) -> Any:
    """A client of SERVICE (ec2, iam, efs…) as sclust configures every client: standard
    retries, [aws info]'s proxy and endpoint, timeouts."""
    config = botocore.config.Config(
        # botocore's standard mode backs off and retries throttling and transient errors.
        # AWS_MAX_ATTEMPTS (boto3's own variable) still wins when set.
        retries={"mode": "standard",
                 "max_attempts": int(os.environ.get("AWS_MAX_ATTEMPTS", "6"))},
        proxies={"https": aws.proxy, "http": aws.proxy} if aws.proxy else None,
        connect_timeout=10,
        read_timeout=60,
    )
    # endpoint_url None lets boto3 apply AWS_ENDPOINT_URL and its own config chain.
    return aws_session(aws, region).client(
        service, endpoint_url=aws.endpoint_url, config=config, verify=aws.verify_certs)


@contextmanager
def wire_unlogged() -> Iterator[None]:
    """Around a call whose answer holds a secret (a new access key): botocore and urllib3 log
    no request or response, even with --debug."""
    loggers = [logging.getLogger(name) for name in ("botocore", "boto3", "urllib3")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
