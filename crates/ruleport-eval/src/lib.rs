//! Fixtures, runner and reports: every port checked against the reference
