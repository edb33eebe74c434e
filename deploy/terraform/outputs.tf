output "function_arn" {
  description = "The pilotlight function."
  value       = aws_lambda_function.pilotlight.arn
}

output "role_arn" {
  description = "The function's role."
  value       = aws_iam_role.function.arn
}

output "scheduler_role_arn" {
  description = "The role EventBridge Scheduler invokes the function with."
  value       = aws_iam_role.scheduler.arn
}

output "schedule_names" {
  description = "Schedule name per resource."
  value       = { for k, s in aws_scheduler_schedule.resource : k => s.name }
}

output "alarm_topic_arn" {
  description = "The SNS topic the alarms notify."
  value       = local.alarm_topic
}

output "alarm_names" {
  description = "The alarms, by name."
  value       = [for a in aws_cloudwatch_metric_alarm.resource : a.alarm_name]
}
