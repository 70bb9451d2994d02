"""The local stack: Azurite, the Document Translation emulator and a local functions host.

Never deployed (see .funcignore). Everything here exists so the app can be run and
tested on one machine with real storage semantics.
"""
