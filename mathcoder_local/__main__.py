from mathcoder_local.cli import main

main()
