"""Hit-list tools beside a library table: rank by desirability, find, group, chart."""
