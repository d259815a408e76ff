// Shared by the unit check of dashboards/alerts.yml and the test against a real Prometheus.

/** The alerts dashboards/alerts.yml must define: one per failure an operator acts on. */
export const REQUIRED_ALERTS = [
  'DualstreamKafkaCooldown',
  'DualstreamPublishFailures',
  'DualstreamFailedJobsAccumulating',
  'DualstreamQueueNearMaxDepth',
  'DualstreamNotifyFailureRatio',
  'DualstreamSourcesHeld',
  'DualstreamOwnershipFailovers',
  'DualstreamOwnershipClaimsFailing',
  'DualstreamNoStreamOwned',
  'DualstreamTargetDown',
];
