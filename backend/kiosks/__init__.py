"""kiosks"""
