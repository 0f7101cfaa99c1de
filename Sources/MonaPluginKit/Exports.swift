@_exported import MonaValues
