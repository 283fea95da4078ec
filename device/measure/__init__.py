"""The measuring tools: the budget check, the bench report, load tests, the Pi 5 projection, the RAM estimate."""
