"""The capacity report's outputs: charts (Vega-Lite), tables, HTML, XLSX and CSV files."""
