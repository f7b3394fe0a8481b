"""What every layer shares: the call trace, the railway's clock, train letters. Imports nothing
of the platform."""
