"""Sample code and tests, one boundary per test module. Yours: edit or delete freely.

They show the patterns (Given/When/Then, factories, isolation markers) against small
stand-ins for your own code; `copier update` never brings a deleted sample back.
"""
