from xmt.cli import run

run()
