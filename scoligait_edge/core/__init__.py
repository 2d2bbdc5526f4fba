"""The ground floor: the skeleton, the feature schema and the constants every layer shares."""
