"""Check, offline, that CloudFormation's execution role may create, update and delete everything
the jobq stack holds (make lint).

The SAM template is translated with the SAM translator (as `sam deploy` has CloudFormation do),
and for each resource type of the result, the permissions its create, update and delete handlers
need are read from the resource schemas cfn-lint ships. Their union, less the exclusions below
(each with its reason), must be allowed by an Allow statement of CloudFormationExecutionRole in
infra/github-oidc.yaml. A deploy would otherwise find each missing action as one denial.

The check is by action: whether each statement's resources cover the stack's own names is
tested separately (tests/tests/deploy.rs).
"""

import fnmatch
import json
import os
import pathlib
import sys

import cfnlint
import yaml
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform

ROOT = pathlib.Path(__file__).resolve().parent.parent
HANDLERS = ("create", "update", "delete")

# Actions the schemas list that the stack never needs, each with its reason.
EXCLUDED = {
    # Customer-managed KMS keys: every encrypted resource uses an AWS-owned or AWS-managed key.
    "kms:*": "no customer-managed KMS key",
    # The table: no import from S3 (the item, import and import-log actions), no replicas, no
    # Kinesis destination, no resource policy, no contributor insights, no auto scaling.
    "dynamodb:BatchWriteItem": "no import from S3",
    "dynamodb:DeleteItem": "no import from S3",
    "dynamodb:GetItem": "no import from S3",
    "dynamodb:PutItem": "no import from S3",
    "dynamodb:Query": "no import from S3",
    "dynamodb:Scan": "no import from S3",
    "dynamodb:UpdateItem": "no import from S3",
    "dynamodb:ImportTable": "no import from S3",
    "dynamodb:DescribeImport": "no import from S3",
    "s3:GetObjectMetadata": "no import from S3",
    "logs:CreateLogStream": "no import from S3 (its logs)",
    "logs:DescribeLogStreams": "no import from S3 (its logs)",
    "logs:PutLogEvents": "no import from S3 (its logs)",
    "dynamodb:AssociateTableReplica": "no replicas",
    "dynamodb:CreateTableReplica": "no replicas",
    "iam:CreateServiceLinkedRole": "no replicas or auto scaling, whose service-linked roles these are",
    "dynamodb:EnableKinesisStreamingDestination": "no Kinesis streaming destination",
    "dynamodb:DisableKinesisStreamingDestination": "no Kinesis streaming destination",
    "dynamodb:UpdateKinesisStreamingDestination": "no Kinesis streaming destination",
    "kinesis:*": "no Kinesis streaming destination",
    "dynamodb:PutResourcePolicy": "no resource policy on the table",
    "dynamodb:GetResourcePolicy": "no resource policy on the table",
    "dynamodb:DeleteResourcePolicy": "no resource policy on the table",
    "dynamodb:UpdateContributorInsights": "contributor insights stay off",
    # Functions: no VPC, no file systems, no layers, no code signing, no versions, no scaling
    # or capacity providers, recursion detection at its default.
    "ec2:*": "no function runs in a VPC",
    "elasticfilesystem:*": "no EFS file system",
    "s3files:*": "no S3 file system",
    "lambda:GetLayerVersion": "no layers",
    "lambda:PutFunctionCodeSigningConfig": "no code signing",
    "lambda:DeleteFunctionCodeSigningConfig": "no code signing",
    "lambda:PublishVersion": "no versions (AutoPublishAlias is not used)",
    "lambda:AssociateRuntimeAlias": "no runtime alias",
    "lambda:PassCapacityProvider": "no capacity provider",
    "lambda:PutFunctionScalingConfig": "no function scaling config",
    "lambda:PutFunctionRecursionConfig": "recursion detection stays at its default",
    # Roles: the boundary is never taken off (that is the escalation the boundary prevents).
    "iam:DeleteRolePermissionsBoundary": "the boundary is never removed",
    "iam:UpdateRole": "forbidden (tests/tests/deploy.rs): SAM sets each role's settings when it creates it",
    "iam:UpdateAssumeRolePolicy": "forbidden (tests/tests/deploy.rs): a new trust policy could hand a "
    "stack role to another principal; SAM sets each function role's trust when it creates it",
    # Log groups: default encryption, no data protection, index or deletion-protection policy,
    # no bearer tokens, no resource policy of their own, no delivery to Firehose or S3.
    "logs:AssociateKmsKey": "default log encryption",
    "logs:DisassociateKmsKey": "default log encryption",
    "logs:PutDataProtectionPolicy": "no data protection policy",
    "logs:GetDataProtectionPolicy": "no data protection policy",
    "logs:DeleteDataProtectionPolicy": "no data protection policy",
    "logs:PutIndexPolicy": "no index policy",
    "logs:DescribeIndexPolicies": "no index policy",
    "logs:DeleteIndexPolicy": "no index policy",
    "logs:PutBearerTokenAuthentication": "no bearer token authentication",
    "logs:PutLogGroupDeletionProtection": "deletion protection stays off",
    "logs:DeleteResourcePolicy": "no log group resource policy",
    "firehose:TagDeliveryStream": "no delivery to Firehose",
    "s3:REST.PUT.OBJECT": "no export to S3",
    # Not IAM actions: API Gateway tags through apigateway:PUT and DELETE on /tags/*, granted.
    "apigateway:TagResource": "tagging is apigateway:PUT on /tags/*",
    "apigateway:UntagResource": "tagging is apigateway:DELETE on /tags/*",
    # The uploads bucket: retained, so CloudFormation never empties it; none of these features.
    "s3:DeleteObject": "the bucket is retained: never emptied by CloudFormation",
    "s3:ListBucket": "the bucket is retained: never emptied by CloudFormation",
    "s3:PutObjectAcl": "no object ACLs (bucket owner enforced)",
    "s3:PutObjectLockConfiguration": "no object lock",
    "s3:PutAccelerateConfiguration": "no transfer acceleration",
    "s3:PutAnalyticsConfiguration": "no analytics configuration",
    "s3:PutIntelligentTieringConfiguration": "no intelligent tiering",
    "s3:PutInventoryConfiguration": "no inventory",
    "s3:PutMetricsConfiguration": "no request metrics",
    "s3:PutReplicationConfiguration": "no replication",
    "s3:CreateBucketMetadataTableConfiguration": "no metadata tables",
    "s3:UpdateBucketMetadata*": "no metadata tables",
    "s3tables:*": "no metadata tables",
}


class NoManagedPolicies(ManagedPolicyLoader):
    """The template attaches no managed policy by name: nothing to look up in IAM."""

    def __init__(self):
        pass

    def load(self):
        return {}


class CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags, kept as their long forms."""


def _tag(loader, suffix, node):
    name = "Fn::GetAtt" if suffix == "GetAtt" else ("Ref" if suffix == "Ref" else f"Fn::{suffix}")
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CfnLoader.add_multi_constructor("!", _tag)


def load(path):
    return yaml.load((ROOT / path).read_text(), Loader=CfnLoader)


def needed_actions(template):
    # As `sam deploy` uploads the code first: CloudFormation sees an S3 location.
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://artifacts/code.zip"
    translated = transform(template, {"PermissionsBoundaryArn": "arn:aws:iam::123456789012:policy/b"}, NoManagedPolicies())
    types = sorted({r["Type"] for r in translated["Resources"].values()})
    schemas = pathlib.Path(cfnlint.__file__).parent / "data" / "schemas"
    providers = json.loads((schemas / "providers" / "us-east-1.json").read_text())
    resources = schemas / "resources"
    needed = {}
    for kind in types:
        schema = json.loads((resources / f"{providers[kind]}.json").read_text())
        for handler in HANDLERS:
            for action in schema.get("handlers", {}).get(handler, {}).get("permissions", []):
                needed.setdefault(action, set()).add(kind)
    return types, needed


def granted_patterns(oidc):
    role = oidc["Resources"]["CloudFormationExecutionRole"]["Properties"]
    patterns = []
    for policy in role["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            if statement.get("Effect") != "Allow":
                continue
            actions = statement["Action"]
            patterns.extend([actions] if isinstance(actions, str) else actions)
    return patterns


def excluded(action):
    return any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in EXCLUDED)


def main():
    # The translator names pseudo parameters from a region; any will do.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    types, needed = needed_actions(load("infra/template.yaml"))
    patterns = granted_patterns(load("infra/github-oidc.yaml"))
    missing = [
        (action, sorted(kinds))
        for action, kinds in sorted(needed.items())
        if not excluded(action) and not any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)
    ]
    print(f"check-deploy-permissions: {len(types)} resource types, {len(needed)} handler actions")
    for action, kinds in missing:
        print(f"  not granted to CloudFormationExecutionRole: {action} (for {', '.join(kinds)})")
    sys.exit(1 if missing else 0)


if __name__ == "__main__":
    main()
