"""The reviewer's rules on a record: the checks and the national scoring."""
