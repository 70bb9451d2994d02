"""`translation-ops`: the operator's tool for the drop-folder translation service.

Never deployed with the function app (see .funcignore); it reads and acts on the same storage
the app uses, locally (Azurite) or in Azure (Microsoft Entra ID, no account key).
"""
