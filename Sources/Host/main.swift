import MonaHostCore

monaServerMain()
