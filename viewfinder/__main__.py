from viewfinder.cli import app

app(prog_name="viewfinder")
