# The same as `pilotlight deploy`, for teams that manage everything in
# Terraform. Apply it with a provider for the DR region: the schedules must
# survive the primary region.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  name = "${var.stack}-pilotlight"
  tags = merge(var.tags, {
    "pilotlight:managed-by" = "pilotlight"
    "pilotlight:stack"      = var.stack
  })
  log_group_arn = "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:/aws/lambda/${local.name}:*"
}

resource "aws_iam_role" "function" {
  name        = local.name
  description = "pilotlight ${var.stack}"
  # Lambda's principal is lambda.amazonaws.com in every partition, China included.
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy" "function" {
  name   = "pilotlight"
  role   = aws_iam_role.function.id
  policy = var.policy_json
}

resource "aws_iam_role_policy" "logs" {
  name = "pilotlight-logs"
  role = aws_iam_role.function.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "LambdaLogs"
      Effect   = "Allow"
      Action   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = [local.log_group_arn]
    }]
  })
}

resource "aws_lambda_function" "pilotlight" {
  function_name    = local.name
  description      = "pilotlight protect plane for stack ${var.stack}"
  role             = aws_iam_role.function.arn
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.architecture]
  filename         = var.lambda_zip
  source_code_hash = filebase64sha256(var.lambda_zip)
  memory_size      = var.memory_size
  timeout          = var.timeout
  tags             = local.tags

  depends_on = [aws_iam_role_policy.function, aws_iam_role_policy.logs]
}

resource "aws_iam_role" "scheduler" {
  name        = "${local.name}-scheduler"
  description = "pilotlight ${var.stack}: lets EventBridge Scheduler invoke the function, nothing else"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "scheduler.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
    }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy" "scheduler" {
  name = "pilotlight"
  role = aws_iam_role.scheduler.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "InvokePilotlight"
      Effect   = "Allow"
      Action   = ["lambda:InvokeFunction"]
      Resource = [aws_lambda_function.pilotlight.arn, "${aws_lambda_function.pilotlight.arn}:*"]
    }]
  })
}

resource "aws_scheduler_schedule" "resource" {
  for_each = var.schedules

  name                         = substr("${var.stack}-${each.key}", 0, 64)
  description                  = "pilotlight ${var.stack}: ${each.key}"
  schedule_expression          = each.value.expression
  schedule_expression_timezone = "UTC"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.pilotlight.arn
    role_arn = aws_iam_role.scheduler.arn
    input    = each.value.input
  }
}

# Alarms notify the topic the user names, or one made here; subscribe
# on-call to it.
resource "aws_sns_topic" "alarms" {
  count = var.sns_topic_arn == "" ? 1 : 0
  name  = "${local.name}-alarms"
  tags  = local.tags
}

locals {
  alarm_topic = var.sns_topic_arn != "" ? var.sns_topic_arn : aws_sns_topic.alarms[0].arn
}

resource "aws_cloudwatch_metric_alarm" "resource" {
  for_each = { for a in var.alarms : a.name => a }

  alarm_name          = each.value.name
  alarm_description   = each.value.description
  namespace           = "Pilotlight"
  metric_name         = each.value.metric
  dimensions          = { Stack = var.stack, Resource = each.value.resource }
  statistic           = each.value.statistic
  period              = each.value.period_seconds
  evaluation_periods  = each.value.evaluation_periods
  datapoints_to_alarm = each.value.datapoints_to_alarm
  threshold           = each.value.threshold
  comparison_operator = each.value.comparison
  treat_missing_data  = each.value.treat_missing_data
  alarm_actions       = [local.alarm_topic]
  ok_actions          = [local.alarm_topic]
  tags                = local.tags
}
