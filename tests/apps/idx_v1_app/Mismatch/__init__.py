def main(req, extra):
    return None
