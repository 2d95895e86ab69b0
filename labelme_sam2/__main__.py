from labelme_sam2.cli.main import main

raise SystemExit(main())
