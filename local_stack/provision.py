"""Creates the template's tables, user pool, app client, groups, topics and queues in moto (or any AWS
endpoint boto3 is pointed at), from template.yaml's own definitions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from local_stack.template import Context, resources

TABLE_ENV = {
    "AgentsTable": "AGENTS_TABLE",
    "PricingTable": "PRICING_TABLE",
    "RollupsTable": "ROLLUPS_TABLE",
    "EventsTable": "EVENTS_TABLE",
    "IngestKeysTable": "INGEST_KEYS_TABLE",
}


@dataclass
class Stack:
    """The physical names and ids of the provisioned resources, keyed like the template's Outputs."""

    outputs: dict[str, str] = field(default_factory=dict)

    def environment(self, endpoint_url: str | None = None) -> dict[str, str]:
        """The function environment variables the template's Globals would set; with the emulator's
        `endpoint_url`, the Cognito endpoint a browser signs in at (the console's) is the emulator's."""
        names = {
            "AgentsTable": "AgentsTableName",
            "PricingTable": "PricingTableName",
            "RollupsTable": "RollupsTableName",
            "EventsTable": "EventsTableName",
            "IngestKeysTable": "IngestKeysTableName",
        }
        env = {var: self.outputs[names[logical]] for logical, var in TABLE_ENV.items()}
        env["ALERT_TOPIC_ARN"] = self.outputs["BudgetAlertTopicArn"]
        env["CURSOR_SECRET_ARN"] = self.outputs["CursorSecretArn"]
        if endpoint_url:
            env["COGNITO_ENDPOINT"] = endpoint_url
        return env

    def refs(self) -> dict[str, str]:
        """What `!Ref <logical id>` gives for each provisioned resource: a table's name, a topic's ARN, a
        queue's URL, the pool's and client's ids (the outputs are named <logical id> + Name/Arn/Url/Id)."""
        refs: dict[str, str] = {}
        for name, value in self.outputs.items():
            for suffix in ("Name", "Arn", "Url", "Id"):
                if name.endswith(suffix) and not name.endswith("StreamArn"):
                    refs[name.removesuffix(suffix)] = value
        return refs


def _table_request(props: dict[str, Any], ctx: Context) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TableName": ctx.resolve(props["TableName"]),
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if "GlobalSecondaryIndexes" in props:
        request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if "StreamSpecification" in props:
        request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    return request


def provision(session: Any, ctx: Context | None = None) -> Stack:
    """Creates every resource the local stack emulates; returns the stack's outputs."""
    ctx = ctx or Context()
    stack = Stack()
    dynamodb = session.client("dynamodb", region_name=ctx.region)
    for logical, resource in resources("AWS::DynamoDB::Table").items():
        props = resource["Properties"]
        request = _table_request(props, ctx)
        described = dynamodb.create_table(**request)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=request["TableName"], TimeToLiveSpecification=ttl)
        stack.outputs[f"{logical}Name"] = request["TableName"]
        if "LatestStreamArn" in described:
            stack.outputs[f"{logical.removesuffix('Table')}StreamArn"] = described["LatestStreamArn"]

    cognito = session.client("cognito-idp", region_name=ctx.region)
    ((_pool_logical, pool),) = resources("AWS::Cognito::UserPool").items()
    pool_props = pool["Properties"]
    schema = [dict(attribute.items()) for attribute in pool_props.get("Schema", [])]
    pool_id = cognito.create_user_pool(
        PoolName=ctx.resolve(pool_props["UserPoolName"]),
        Schema=schema,
        Policies=pool_props.get("Policies", {}),
        AdminCreateUserConfig=pool_props.get("AdminCreateUserConfig", {}),
    )["UserPool"]["Id"]
    stack.outputs["UserPoolId"] = pool_id
    for client in resources("AWS::Cognito::UserPoolClient").values():
        props = client["Properties"]
        stack.outputs["UserPoolClientId"] = cognito.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName=ctx.resolve(props["ClientName"]),
            GenerateSecret=props.get("GenerateSecret", False),
            ExplicitAuthFlows=props.get("ExplicitAuthFlows", []),
            ReadAttributes=props.get("ReadAttributes", []),
            WriteAttributes=props.get("WriteAttributes", []),
        )["UserPoolClient"]["ClientId"]
    for group in resources("AWS::Cognito::UserPoolGroup").values():
        props = group["Properties"]
        cognito.create_group(
            UserPoolId=pool_id, GroupName=props["GroupName"], Description=props.get("Description", "")
        )

    sns = session.client("sns", region_name=ctx.region)
    for logical, topic in resources("AWS::SNS::Topic").items():
        arn = sns.create_topic(Name=ctx.resolve(topic["Properties"]["TopicName"]))["TopicArn"]
        stack.outputs[f"{logical}Arn"] = arn

    sqs = session.client("sqs", region_name=ctx.region)
    for logical, queue in resources("AWS::SQS::Queue").items():
        url = sqs.create_queue(QueueName=ctx.resolve(queue["Properties"]["QueueName"]))["QueueUrl"]
        stack.outputs[f"{logical}Url"] = url

    secrets = session.client("secretsmanager", region_name=ctx.region)
    for logical, secret in resources("AWS::SecretsManager::Secret").items():
        props = secret["Properties"]
        length = props.get("GenerateSecretString", {}).get("PasswordLength", 64)
        stack.outputs[f"{logical}Arn"] = secrets.create_secret(
            Name=ctx.resolve(props["Name"]),
            SecretString=secrets.get_random_password(PasswordLength=length, ExcludePunctuation=True)[
                "RandomPassword"
            ],
        )["ARN"]

    stack.outputs["Region"] = ctx.region
    return stack
