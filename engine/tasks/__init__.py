"""Maintenance tasks: what they are (`registry`, bodies in one module each), when they run
(`schedules`), their rows (`store`: state, runs, the command queue), the operator's controls
(`controls`), their state as shown (`status`), running one (`execution`) and the scheduler
leader's plain decisions (`leading`). The APScheduler service is `workers.scheduler`."""
