"""HTTP clients for Notion and Clockify: requests only, no ORM, no settings."""
