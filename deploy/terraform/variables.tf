variable "stack" {
  description = "The stack name (pilotlight.yaml's stack:); every resource is named <stack>-pilotlight*."
  type        = string
}

variable "lambda_zip" {
  description = "Path of the Lambda zip written by `pilotlight deploy --zip-only FILE` (bootstrap, binary, config)."
  type        = string
}

variable "policy_json" {
  description = "The function role's policy: the output of `pilotlight iam-policy --for backup,replicate`."
  type        = string
}

variable "schedules" {
  description = <<-EOT
    One EventBridge Scheduler schedule per protected resource, keyed by resource name:
    expression (rate() or cron(), as `pilotlight deploy --dry-run -o json` lists them)
    and input (the event, e.g. {"action":"backup","only":["wordpress-db"]}).
  EOT
  type = map(object({
    expression = string
    input      = string
  }))
}

variable "architecture" {
  description = "Lambda architecture of the binary in the zip: x86_64 or arm64."
  type        = string
  default     = "x86_64"
  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "memory_size" {
  description = "Function memory in MB."
  type        = number
  default     = 256
}

variable "timeout" {
  description = "Function timeout in seconds (a copy that outlasts it is resumed by the next run)."
  type        = number
  default     = 900
}

variable "tags" {
  description = "Extra tags for the roles and the function."
  type        = map(string)
  default     = {}
}

variable "alarms" {
  description = <<-EOT
    The CloudWatch alarms `pilotlight deploy` makes, as `pilotlight deploy --dry-run -o json | jq '.alarms'`
    lists them: per database and image RPOSeconds above its target, per resource ConsecutiveFailures
    of two, on the metrics the function writes (namespace Pilotlight, dimensions Stack and Resource).
  EOT
  type = list(object({
    name                = string
    resource            = string
    metric              = string
    statistic           = string
    threshold           = number
    period_seconds      = number
    evaluation_periods  = number
    datapoints_to_alarm = number
    comparison          = string
    treat_missing_data  = string
    description         = string
  }))
  default = []
}

variable "sns_topic_arn" {
  description = "SNS topic the alarms notify (pilotlight.yaml's alarms.sns_topic); empty makes <stack>-pilotlight-alarms."
  type        = string
  default     = ""
}
