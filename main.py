from studio.app import run

raise SystemExit(run())
