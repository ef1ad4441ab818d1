from vfpnet.cli.main import main

raise SystemExit(main())
