"""Speech-to-text engines and the one transcript model they all produce."""
