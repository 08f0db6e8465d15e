"""Speech front-ends."""
