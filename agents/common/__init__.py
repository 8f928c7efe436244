"""Parts shared by every learner: schedules, serialisation, exploration."""
