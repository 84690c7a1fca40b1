"""What one run leaves behind: the result and its files, plots, the HTML report and the results store."""
