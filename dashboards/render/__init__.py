"""Drawing the panels with plotly (the numbers come from ``dashboards.panels``), and the page."""
