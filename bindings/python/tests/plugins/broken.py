raise ImportError("a dependency of this plugin is not installed")
